"""Cloud speech recognisers (adapters) and their offline protocol emulators."""
