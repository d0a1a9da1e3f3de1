"""Speech recognisers: each turns user audio into immutable finals with word times."""
