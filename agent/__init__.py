"""Turn-taking for voice agents on Pipecat: when to speak and when to stop."""

__version__ = "0.1.0"
