"""book-builder: validated L2 books from ``md.book.v1``, top of book to ``book.bbo.v1``."""
