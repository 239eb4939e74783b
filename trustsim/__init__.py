"""trustsim."""
