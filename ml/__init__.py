"""deeppp stage: ml."""
