"""What the bot knows: curated entries, the Japanese matcher, the crisis lexicon, local resources.

Imports only the standard library, PyYAML, rapidfuzz and SudachiPy: nothing here knows about
channels, databases or staff.
"""
