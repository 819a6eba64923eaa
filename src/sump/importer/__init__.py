"""Importers that bring data from other systems into Sump's database (`sump import …`)."""
