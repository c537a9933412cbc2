"""Code shared by the two shop targets: the variant switch, the schema, seeding, password hashing."""
