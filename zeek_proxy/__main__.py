from zeek_proxy.cli import main

main()
