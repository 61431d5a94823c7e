"""Anonymization generators: tables anonymized column by column with Aindo's aindo-anonymize."""

from ffwd.adapters.anonymization.anonymizer import AindoAnonymizer

__all__ = ["AindoAnonymizer"]
