"""Domain types and policy: the bottom layer. Imports nothing from the layers above."""
