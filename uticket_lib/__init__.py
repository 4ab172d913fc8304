"""uticket: reproducible companion to u-Ticket (Yin et al., IEEE TETCI 2024)."""
__version__ = "0.1.0"
