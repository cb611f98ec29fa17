"""What every app shares and nothing in the project sits below: the domain error types."""
