"""frontdesk: the telephone reception of a medical practice, driving FreeSWITCH over ESL."""

__version__ = "0.1.0"
