"""The member registry: members and personal IDs, unions, roster files and imports, transfers between offices."""
