"""Log formats: the line syntaxes (Zeek TSV, Zeek JSON, Suricata eve), sniffing, and one
ECS mapping per Zeek log. Formats never import the reader that drives them."""
