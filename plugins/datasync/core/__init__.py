"""Domain pieces every layer shares: errors, identifiers, schemas, SQL templates."""
