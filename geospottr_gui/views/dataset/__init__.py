"""The Dataset workspace: the image grid and viewer, cities, downloads and the advisor, the map and the
Looks embedding, and the Find-problems dialog."""
