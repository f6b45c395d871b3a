"""deeppp stage: firmware."""
