"""verify: every check an auditor runs on a package."""
