"""cityops: an open-source city operations management platform (城市运行管理服务平台, 一网统管)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
