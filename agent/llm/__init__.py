"""Reply generators: scripted replies (default, offline) and any OpenAI-compatible server."""
