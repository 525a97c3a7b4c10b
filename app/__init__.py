"""Appeals: letter campaigns for people prosecuted for their civic work."""
