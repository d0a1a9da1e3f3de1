"""Protocol emulators: cloud STT providers served on loopback from the local recogniser."""
