"""casusregie: case direction for multi-problem households (regie op multiprobleemhuishoudens)."""

__version__ = "0.1.0"
