"""Pure types and the error tree; imports nothing else of winback."""
