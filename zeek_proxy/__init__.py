"""zeek-proxy: Elastic's "Proxy Port Activity to the Internet" over Zeek and Suricata logs."""
