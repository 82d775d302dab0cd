"""Pure domain code and reference data: departments and regions, FINESS categories, BAL types,
INS checking. No database access here."""
