=begin
  Appwrite 1.0-1.3 function API: two parameters.
    req.payload    the request body as a string ('' when empty)
    req.variables  the function's variables and APPWRITE_FUNCTION_* values
    req.headers    the request headers
    res.send(text, status = 200) and res.json(hash, status = 200); the last call wins.
  Anything printed is the execution's log. An uncaught exception answers 500.
=end

def main(req, res)
  return res.send('pong') if req.payload == 'ping'

  puts "Payload: #{req.payload}"

  res.json({
             'areDevelopersAwesome' => true,
             'payload' => req.payload,
             'functionId' => req.variables['APPWRITE_FUNCTION_ID'] || ''
           })
end
