"""The app's screens: the inbox (everything happens there) and the help."""
