"""Use cases over the ports: accounts, catalogue, ratings, recommendations, search and publishing."""
