"""What a buyer is and decides: the rules shared by both engines."""
