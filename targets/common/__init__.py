"""Code shared by the targets: the variant switch, the shops' schema and seeding, database set-up, password hashing."""
