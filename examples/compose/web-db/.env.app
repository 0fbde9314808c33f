SECRET_KEY=not-in-git
