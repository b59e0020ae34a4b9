"""The practice manager's figures (`figures`), their names and definitions in fr and en
(`words`), and their reports: the terminal summary and the CSV files (`text`), the
self-contained HTML report (`html`). docs/report.md defines each figure."""
