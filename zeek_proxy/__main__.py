from zeek_proxy.launch import main

main()
