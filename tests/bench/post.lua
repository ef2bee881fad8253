-- wrk: POST the same JSON booking for every request (rate limits are off in the benchmark).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"Bench Visitor","email":"bench@example.org","party_size":1}'
