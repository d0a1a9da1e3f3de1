"""Runnable pipeline definitions: ``local`` is the offline default."""
