"""Application code shipped to Lambda, one module or package per capability."""
