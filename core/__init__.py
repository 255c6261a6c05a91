"""The shared kernel every room may import: settings, database, encryption, clock, logging.

It knows nothing about LINE, Telegram, staff or the knowledge base; rooms build on it.
"""
