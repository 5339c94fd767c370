"""The benchmark data's columns, shared by the generator and the peers."""

NUMERIC = [f"x{i}" for i in range(11)]
CATEGORIES = {
    "segment": ["retail", "sme", "corporate", "public"],
    "region": ["north", "south", "east", "west", "central"],
    "channel": ["web", "branch", "phone", "partner"],
    "product": ["loan", "card", "mortgage", "lease", "overdraft", "savings"],
    "grade": list("ABCDEFG"),
    "status": ["active", "closed", "dormant"],
    "currency": ["EUR", "USD", "GBP", "CHF"],
    "risk_band": ["low", "medium", "high"],
}
