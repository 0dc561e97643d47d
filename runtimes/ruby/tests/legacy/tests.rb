# Canonical test function for the legacy (Appwrite 1.0–1.3) API: two parameters, `req` and `res`.

def main(req, res)
  case req.headers['x-action']
  when 'payload'
    res.send(req.payload)
  when 'json'
    res.json({ 'ok' => true, 'payload' => req.payload })
  when 'variables'
    res.json(req.variables)
  when 'headers'
    res.json(req.headers)
  when 'status'
    res.send('teapot', 418)
  when 'log'
    puts 'legacy log'
    res.send('ok')
  when 'throw'
    raise 'legacy error'
  else
    raise 'Unknown action'
  end
end
