# Canonical test function (current context API), selected by the `x-action` request header.
# Same actions in every language: see runtimes/README.md.
require 'digest'

def main(context)
  req = context.req
  res = context.res

  case req.headers['x-action']
  when 'plaintextResponse'
    res.text('Hello World 👋')
  when 'jsonResponse'
    res.json({ 'json' => true, 'message' => 'Developers are awesome.' })
  when 'customCharsetResponse'
    res.text('ÅÆ', 200, { 'content-type' => 'text/plain; charset=iso-8859-1' })
  when 'uppercaseCharsetResponse'
    res.text('ÅÆ', 200, { 'content-type' => 'TEXT/PLAIN' })
  when 'multipartResponse'
    res.text("--12345
Content-Disposition: form-data; name=\"partOne\"

Why just have one part?
--12345
Content-Disposition: form-data; name=\"partTwo\"

When you can have two!
--12345--", 200, { 'content-type' => 'multipart/form-data; boundary=12345' })
  when 'redirectResponse'
    res.redirect('https://github.com/')
  when 'emptyResponse'
    res.empty
  when 'noResponse'
    res.text('This should be ignored, as it is not returned.')
    nil
  when 'doubleResponse'
    res.text('This should be ignored.')
    res.text('This should be returned.')
  when 'enforcedHeaders'
    res.json({
               'x-custom' => req.headers['x-custom'],
               'x-custom-uppercase' => req.headers['x-custom-uppercase'],
               'x-open-runtimes-custom' => req.headers['x-open-runtimes-custom']
             })
  when 'headersResponse'
    res.text('OK', 200, {
               'first-header' => 'first-value',
               'second-header' => req.headers['x-open-runtimes-custom-in-header'] || 'missing',
               'cookie' => req.headers['cookie'] || 'missing',
               'x-open-runtimes-custom-out-header' => 'third-value'
             })
  when 'statusResponse'
    res.text('FAIL', 404)
  when 'requestMethod'
    res.text(req.method)
  when 'requestUrl'
    res.json({
               'url' => req.url,
               'port' => req.port,
               'path' => req.path,
               'query' => req.query,
               'queryString' => req.query_string,
               'scheme' => req.scheme,
               'host' => req.host
             })
  when 'requestHeaders'
    res.json(req.headers)
  when 'requestBodyText'
    res.text(req.body_text)
  when 'requestBodyJson'
    res.json(req.body_json)
  when 'requestBodyBinary'
    res.binary(req.body_binary)
  when 'requestBodyTextAuto'
    res.text(req.body)
  when 'requestBodyJsonAuto'
    res.json(req.body)
  when 'binaryResponse1'
    res.binary([0, 10, 255].pack('C*'))
  when 'binaryResponse2'
    res.binary([0, 20, 255].pack('C*'))
  when 'binaryResponse3'
    res.binary([0, 30, 255].pack('C*'))
  when 'binaryResponse4'
    res.binary([0, 40, 255].pack('C*'))
  when 'binaryResponse5'
    res.binary([0, 50, 255].pack('C*'))
  when 'binaryResponseLarge'
    res.text(Digest::MD5.hexdigest(req.body_binary), 200, { 'x-method' => req.method })
  when 'envVars'
    res.json({ 'var' => ENV['CUSTOM_ENV_VAR'], 'emptyVar' => ENV['NOT_DEFINED_VAR'] })
  when 'logs'
    puts 'Native log'
    context.log('Debug log')
    context.error('Error log')
    context.log('Log+With+Plus+Symbol')
    context.log(42)
    context.log(4.2)
    context.log(true)
    context.log({ 'objectKey' => 'objectValue' })
    context.log(['arrayValue'])
    context.log('A' * 9000)
    context.error('B' * 9000)
    res.text('')
  when 'timeout'
    context.log('Timeout start.')
    # as the official test function: an awaited Async task (the gem is loaded for every function;
    # ruby-3.0 images have none)
    defined?(Async) ? Async { sleep 3 }.wait : sleep(3)
    context.log('Timeout end.')
    res.text('Successful response.')
  when 'deprecatedMethods'
    res.send(req.body_raw)
  when 'deprecatedMethodsUntypedBody'
    res.send(50)
  when 'spreadOperatorLogs'
    context.log('engine:', 'open-runtimes')
    context.error('engine:', 'open-runtimes')
    res.text('OK')
  when 'errorTest'
    context.log('Before error...')
    raise 'Error!'
  when 'largeResponse'
    res.text('x' * (req.headers['x-size'] || '2000000').to_i)
  when 'floodLogs'
    puts 'x' * (5 * 1024 * 1024)
    res.text('OK')
  when 'exit'
    exit(1)
  when 'hang'
    loop { sleep 60 }
  else
    raise 'Unknown action'
  end
end
