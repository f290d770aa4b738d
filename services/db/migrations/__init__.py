"""SQL migration files (data only; a package so they ship in the wheel). Rules: README.md here."""
