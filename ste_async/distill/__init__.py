"""Exploitation: turning explored trials into training data and demonstrations."""
