module taskboard/bench/wsclient

go 1.26
