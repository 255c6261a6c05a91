"""The user side: channel adapters, the dialogue engine, inbox/outbox workers, the app and CLI."""
