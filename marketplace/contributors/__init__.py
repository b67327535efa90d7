"""The contributor's side: claiming identities, the statement, erasure."""
