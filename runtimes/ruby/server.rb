# Open Runtimes adapter for Ruby (>= 3.0): speaks the v5 executor wire (or v2 when
# INTERNAL_RUNTIME_KEY is set) and runs the user's function. Standard library only (no WEBrick,
# no Rack), so the same file runs on the host and inside an openruntimes/ruby image. The one gem it
# loads is `async`, for the function (as the official runtime does), when it is installed.
# Spec: runtimes/README.md.
#
# One thread per connection; calls can run concurrently. The soft timeout raises an exception
# outside StandardError in the call's thread (Watchdog), so a plain `rescue => e` in the function
# cannot swallow it.
# Native output ($stdout/$stderr, so puts/print/p/warn) is routed per call through a thread-local
# sink, so concurrent calls never see each other's output.

require 'socket'
require 'json'
require 'securerandom'
require 'timeout'

module OpenRuntimes
  # -------------------------------------------------------------- config

  def self.enforced_headers(raw)
    parsed = raw.nil? || raw.empty? ? {} : JSON.parse(raw)
    parsed.is_a?(Hash) ? parsed.to_h { |k, v| [k.to_s.downcase, v.to_s] } : {}
  rescue JSON::ParserError
    {}
  end

  def self.env(name, default = '')
    value = ENV[name]
    value.nil? || value.empty? ? default : value
  end

  V2_KEY = env('INTERNAL_RUNTIME_KEY')
  CONFIG = {
    host: env('OPEN_RUNTIMES_HOST', '0.0.0.0'),
    port: env('OPEN_RUNTIMES_PORT', '3000').to_i,
    code_dir: env('OPEN_RUNTIMES_CODE_DIR', V2_KEY.empty? ? '/usr/local/server/src/function' : '/usr/code'),
    logs_dir: env('OPEN_RUNTIMES_LOGS_DIR', '/mnt/logs'),
    entrypoint: (V2_KEY.empty? ? nil : ENV['INTERNAL_RUNTIME_ENTRYPOINT']).then { |e| e.nil? || e.empty? ? env('OPEN_RUNTIMES_ENTRYPOINT', 'index.rb') : e },
    secret: env('OPEN_RUNTIMES_SECRET'),
    development: ENV['OPEN_RUNTIMES_ENV'] == 'development',
    headers: enforced_headers(ENV['OPEN_RUNTIMES_HEADERS']),
    v2_key: V2_KEY,
    max_body_bytes: 20 * 1024 * 1024
  }.freeze

  # -------------------------------------------------------------- logging

  LOG_LIMIT = 8000
  TRUNCATED = '... Log truncated due to size limit (8000 characters)'
  NATIVE_NOTICE = 'Native logs detected. Use context.log() or context.error() for better experience.'

  def self.stringify(value)
    case value
    when String then value
    when Exception then value.full_message(highlight: false)
    when Hash, Array
      begin
        value.to_json
      rescue StandardError
        value.inspect
      end
    else value.to_s
    end
  end

  def self.format_messages(messages)
    text = messages.map { |m| utf8(stringify(m)) }.join(' ')
    text.length > LOG_LIMIT ? text[0, LOG_LIMIT] + TRUNCATED : text
  end

  def self.utf8(text)
    text = text.dup.force_encoding(Encoding::UTF_8)
    text.valid_encoding? ? text : text.scrub
  end

  # PHP uniqid() shape the executor expects: 8 hex of seconds, 5 of microseconds, 7 random.
  def self.uniqid
    now = Time.now
    format('%08x%05x', now.to_i, now.usec) + SecureRandom.hex(4)[0, 7]
  end

  # What one call may leave in each log file: the executor reads 5 MiB and notes the truncation when
  # there is more, so one byte past that is all it needs; a flood stops growing this process.
  LOG_FILE_BYTES = 5 * 1024 * 1024 + 1
  # Past this much unwritten output a stream is appended to its file at once.
  LOG_BUFFER_BYTES = 1024 * 1024

  # Appends to a log file; the logs dir is made only when it turns out to be missing.
  def self.append_log(path, data)
    File.open(path, 'ab') { |file| file.write(data) }
  rescue Errno::ENOENT
    begin
      Dir.mkdir(CONFIG[:logs_dir])
      File.open(path, 'ab') { |file| file.write(data) }
    rescue IOError, SystemCallError
      nil # an unwritable logs dir must not fail the execution
    end
  rescue IOError, SystemCallError
    nil # nor must a full disk
  end

  # One per call. v5: the call's output is kept in memory (a file per stream would cost an open, a
  # close and a write per entry) and appended to <id>_logs.log / <id>_errors.log by close(), before
  # the reply; a stream past LOG_BUFFER_BYTES is written out at once. No id: logging disabled.
  # v2 wire (in_memory): collects stdout/stderr for the JSON response instead.
  class Logger
    attr_reader :id, :memory

    def initialize(id, in_memory: false)
      @id = id
      @in_memory = in_memory
      @enabled = in_memory || !id.empty?
      @memory = { log: String.new(encoding: Encoding::BINARY), error: String.new(encoding: Encoding::BINARY) }
      @room = { log: LOG_FILE_BYTES, error: LOG_FILE_BYTES }
      @written = { log: false, error: false }
      @closed = false
      @native_seen = false
      @open_line = false
      @lock = Mutex.new
    end

    def write(stream, text)
      @lock.synchronize do
        room = @room[stream]
        # Once the call is over (a thread it started writing on), output is dropped.
        next if @closed || !@enabled || room <= 0

        text = text.byteslice(0, room) if text.bytesize > room
        @room[stream] = room - text.bytesize
        buffer = @memory[stream]
        buffer << text.b
        write_out(stream) if !@in_memory && buffer.bytesize > LOG_BUFFER_BYTES
      end
    end

    def message(stream, messages)
      end_native_line
      write(stream, OpenRuntimes.format_messages(messages) + "\n")
    end

    # Raw native output as it is produced; the notice precedes the first chunk of a call.
    def native(stream, text)
      return if text.empty?

      if @in_memory
        write(stream, text)
        return
      end
      write(:log, NATIVE_NOTICE + "\n") unless @native_seen
      @native_seen = true
      write(:log, text)
      @open_line = !text.end_with?("\n")
    end

    def end_native_line
      return unless @open_line

      @open_line = false
      write(:log, "\n")
    end

    # Both files exist afterwards, empty when nothing was logged, as the official runtimes leave
    # them; a file already written is touched again only for new output.
    def close
      end_native_line
      @lock.synchronize do
        next if @closed

        @closed = true
        next if @in_memory || !@enabled

        %i[log error].each { |stream| write_out(stream) if !@written[stream] || !@memory[stream].empty? }
      end
    end

    private

    def write_out(stream)
      data = @memory[stream]
      @memory[stream] = String.new(encoding: Encoding::BINARY)
      @written[stream] = true
      OpenRuntimes.append_log("#{CONFIG[:logs_dir]}/#{@id}_#{stream == :log ? 'logs' : 'errors'}.log", data)
    end
  end

  # Stands in for $stdout/$stderr: writes made by a call go to that call's logger, anything else
  # (the adapter itself, threads the function started) to the real stream.
  class NativeOutput
    def initialize(real, stream)
      @real = real
      @stream = stream
    end

    def write(*args)
      sink = Thread.current[:open_runtimes_logger]
      return @real.write(*args) if sink.nil?

      text = args.map { |a| a.to_s.b }.join
      sink.native(@stream, text)
      text.bytesize
    end

    def <<(obj)
      write(obj)
      self
    end

    def print(*args)
      write(*(args.empty? ? [$_] : args))
      nil
    end

    def puts(*args)
      args = [nil] if args.empty?
      args.flatten.each do |arg|
        line = arg.nil? ? '' : arg.to_s
        write(line.end_with?("\n") ? line : line + "\n")
      end
      nil
    end

    def printf(*args)
      write(format(*args))
      nil
    end

    def flush
      @real.flush if Thread.current[:open_runtimes_logger].nil?
      self
    end

    def sync
      true
    end

    def sync=(_value); end

    def respond_to_missing?(name, include_private = false)
      @real.respond_to?(name, include_private)
    end

    def method_missing(name, *args, &block)
      @real.__send__(name, *args, &block)
    end
  end

  # -------------------------------------------------------------- request / context

  def self.split_host(host_header, scheme)
    default_port = scheme == 'https' ? 443 : 80
    if host_header.start_with?('[') # [v6]:port
      close = host_header.index(']') || (host_header.length - 1)
      rest = host_header[(close + 1)..] || ''
      return [host_header[0..close], rest.start_with?(':') ? rest[1..].to_i : default_port, default_port]
    end
    host, port = host_header.split(':', 2)
    [host || '', port.nil? ? default_port : port.to_i, default_port]
  end

  def self.parse_query(query_string)
    query_string.split('&').each_with_object({}) do |param, query|
      key, value = param.split('=', 2)
      query[key] = value || '' unless key.nil? || key.empty?
    end
  end

  # Headers the function sees: lower-cased, x-open-runtimes-* removed, then the enforced overlay.
  def self.function_headers(headers)
    headers.reject { |key, _| key.start_with?('x-open-runtimes-') }.merge(CONFIG[:headers])
  end

  def self.request_fields(http)
    target = http[:target]
    target = Regexp.last_match(1) || '/' if target =~ %r{\Ahttps?://[^/]*(/.*)?\z}i # absolute-form
    target = target.split('#', 2)[0]
    path, query_string = target.split('?', 2)
    query_string ||= ''
    path = '/' if path.nil? || path.empty?
    scheme = http[:headers]['x-forwarded-proto'] || 'http'
    host, port, default_port = split_host(http[:headers]['host'] || '', scheme)
    url = "#{scheme}://#{host}#{port == default_port ? '' : ":#{port}"}#{path}#{query_string.empty? ? '' : "?#{query_string}"}"
    { method: http[:method], scheme: scheme, host: host, port: port, path: path, query_string: query_string,
      query: parse_query(query_string), url: url, headers: function_headers(http[:headers]), body_binary: http[:body] }
  end

  class RuntimeRequest
    attr_reader :body_binary, :headers, :method, :url, :path, :port, :scheme, :host, :query, :query_string

    def initialize(fields)
      @body_binary = fields[:body_binary]
      @headers = fields[:headers]
      @method = fields[:method]
      @url = fields[:url]
      @path = fields[:path]
      @port = fields[:port]
      @scheme = fields[:scheme]
      @host = fields[:host]
      @query = fields[:query]
      @query_string = fields[:query_string]
    end

    def body_text
      OpenRuntimes.utf8(@body_binary)
    end

    def body_raw
      body_text
    end

    def body_json
      JSON.parse(body_text)
    end

    def body
      return body_text unless (@headers['content-type'] || 'text/plain').downcase.start_with?('application/json')

      @body_binary.empty? ? {} : body_json
    end
  end

  class RuntimeContext
    attr_reader :req, :res

    def initialize(req, logger)
      @req = req
      @res = RuntimeResponse.new
      @logger = logger
    end

    def log(*messages)
      @logger.message(:log, messages)
    end

    def error(*messages)
      @logger.message(:error, messages)
    end
  end

  # Legacy `req`: req.payload / req.variables / req.headers (req['payload'] works too).
  LegacyRequest = Struct.new(:payload, :variables, :headers)

  # The environment plus the per-execution variables of the v2 era, taken from the request
  # because a warm process's environment cannot change per call (runtimes/README.md).
  def self.legacy_variables(payload, headers)
    event = headers['x-appwrite-event'] || ''
    ENV.to_h.merge(
      'APPWRITE_FUNCTION_TRIGGER' => headers['x-appwrite-trigger'] || '',
      'APPWRITE_FUNCTION_EVENT' => event,
      'APPWRITE_FUNCTION_EVENT_DATA' => event.empty? ? '' : payload,
      'APPWRITE_FUNCTION_DATA' => payload,
      'APPWRITE_FUNCTION_USER_ID' => headers['x-appwrite-user-id'] || '',
      'APPWRITE_FUNCTION_JWT' => headers['x-appwrite-user-jwt'] || ''
    )
  end

  # Legacy `res`: the last send/json call wins; no call means 200 with an empty body.
  class LegacyResponse
    attr_reader :body, :status, :is_json

    def initialize
      @body = ''
      @status = 200
      @is_json = false
    end

    def send(text, status = 200)
      @body, @status, @is_json = [text.to_s, status, false]
      self
    end

    def json(data, status = 200)
      @body, @status, @is_json = [data, status, true]
      self
    end
  end

  # -------------------------------------------------------------- response

  # Helpers return plain values; only the one the function returns is sent.
  class RuntimeResponse
    def binary(bytes, status_code = 200, headers = {})
      bytes = bytes.pack('C*') if bytes.is_a?(Array)
      { 'body' => bytes, 'statusCode' => status_code, 'headers' => headers }
    end

    def text(body, status_code = 200, headers = {})
      binary(body.to_s, status_code, headers)
    end

    def send(body, status_code = 200, headers = {})
      text(body.to_s, status_code, headers)
    end

    def json(obj, status_code = 200, headers = {})
      text(JSON.generate(obj), status_code, headers.merge('content-type' => 'application/json'))
    end

    def empty
      text('', 204, {})
    end

    def redirect(url, status_code = 301, headers = {})
      text('', status_code, headers.merge('location' => url))
    end
  end

  def self.content_type(value)
    type = value.nil? || value.to_s.empty? ? 'text/plain' : value.to_s
    mime, rest = type.split(';', 2)
    mime = mime.to_s.strip.downcase
    type = rest.nil? ? mime : "#{mime};#{rest}"
    type += '; charset=utf-8' unless mime.start_with?('multipart/') || type.downcase.include?('charset=')
    type
  end

  # Function headers as sent: keys lower-cased, x-open-runtimes-* dropped, content-type completed.
  def self.output_headers(raw, log_id)
    headers = {}
    (raw.is_a?(Hash) ? raw : {}).each do |key, value|
      key = key.to_s.strip.downcase
      next if key.start_with?('x-open-runtimes-') || %w[content-length connection transfer-encoding].include?(key)

      headers[key] = value.is_a?(Array) ? value.map(&:to_s) : value.to_s
    end
    type = headers['content-type']
    headers['content-type'] = content_type(type.is_a?(Array) ? type.last : type)
    headers['x-open-runtimes-log-id'] = log_id
    headers
  end

  # -------------------------------------------------------------- loader

  class EntrypointError < StandardError; end

  # Raised inside a call when its soft timeout expires; not a StandardError on purpose.
  class TimedOut < Exception; end # rubocop:disable Lint/InheritException

  LOAD_LOCK = Mutex.new
  @handler = nil

  # Returns [callable, legacy?]. The entry file is loaded once; `def main` lands on the top-level
  # object, where the function's other top-level methods are too.
  def self.load_handler
    LOAD_LOCK.synchronize do
      return @handler if @handler

      entrypoint = CONFIG[:entrypoint]
      file = File.expand_path(entrypoint, CONFIG[:code_dir])
      raise EntrypointError, "Failed to load entrypoint, file #{entrypoint} does not exist." unless File.file?(file)

      top = TOPLEVEL_BINDING.receiver
      begin
        gemfile = File.join(CONFIG[:code_dir], 'Gemfile')
        bundled_async = File.file?(gemfile) && bundles_async?("#{gemfile}.lock")
        # Before bundler/setup, which hides gems outside the bundle; after it when the bundle has its own.
        load_async unless bundled_async
        if File.file?(gemfile)
          ENV['BUNDLE_GEMFILE'] ||= gemfile
          vendored = File.join(CONFIG[:code_dir], 'vendor', 'bundle')
          ENV['BUNDLE_PATH'] ||= vendored if File.directory?(vendored) # built with BUNDLE_PATH, no .bundle/config
          require 'bundler/setup'
        end
        load_async if bundled_async
        Kernel.load(file)
      rescue SyntaxError => e
        raise EntrypointError, "Syntax error in #{entrypoint}: #{e.message}"
      rescue ScriptError, StandardError => e
        raise EntrypointError, "Failed to load module: #{e.full_message(highlight: false)}"
      end
      unless top.respond_to?(:main, true)
        raise EntrypointError, "Function signature invalid. Did you forget to export a 'main' function?"
      end

      handler = top.method(:main)
      positional = handler.parameters.count { |type, _| %i[req opt].include?(type) }
      @handler = [handler, positional >= 2]
    end
  end

  # The official runtime's Gemfile has the async gem and its server requires it, so functions call
  # `Async do ... end.wait` without a require. Missing here, the build log said how to install it.
  def self.load_async
    require 'async'
  rescue LoadError
    nil
  end

  def self.bundles_async?(lockfile)
    File.file?(lockfile) && File.foreach(lockfile).any? { |line| line.match?(/\A    async \(/) }
  end

  # Soft timeouts of every call, from one thread: Timeout.timeout of Ruby < 3.2 starts a thread per
  # call. A call past its deadline gets TimedOut raised in its thread, unless it has ended.
  module Watchdog
    Call = Struct.new(:thread, :deadline, :done)
    @lock = Mutex.new
    @wake = ConditionVariable.new
    @calls = []
    @sleeping_until = nil # the deadline the watchdog waits for; nil: none
    @thread = nil

    def self.now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def self.within(seconds)
      call = Call.new(Thread.current, now + seconds, false)
      @lock.synchronize do
        @calls << call
        @thread ||= Thread.new { watch }
        # Woken only when this deadline comes before the one it waits for (usually it does not).
        @wake.signal if @sleeping_until.nil? || call.deadline < @sleeping_until
      end
      begin
        yield
      ensure
        @lock.synchronize do
          call.done = true
          @calls.delete(call)
        end
      end
    end

    def self.watch
      @lock.synchronize do
        loop do
          at = now
          @calls.reject! do |call|
            next false if call.deadline > at

            call.thread.raise(TimedOut) unless call.done
            call.done = true
          end
          @sleeping_until = @calls.map(&:deadline).min
          @wake.wait(@lock, @sleeping_until && [@sleeping_until - at, 0.001].max)
          @sleeping_until = nil
        end
      end
    end
  end

  # Calls the function with native output routed to `logger`; raises TimedOut past `timeout`.
  def self.invoke(logger, timeout)
    Thread.current[:open_runtimes_logger] = logger
    timeout.positive? ? Watchdog.within(timeout) { yield } : yield
  rescue SystemExit => e
    # exit inside a function ends the runtime, as it would in a one-process server.
    logger.close
    STDERR.puts "Function called exit(#{e.status}) during an execution; stopping the server."
    Kernel.exit!(e.status)
  ensure
    Thread.current[:open_runtimes_logger] = nil
  end

  # -------------------------------------------------------------- server

  REASONS = { 100 => 'Continue', 200 => 'OK', 201 => 'Created', 204 => 'No Content', 301 => 'Moved Permanently',
              302 => 'Found', 304 => 'Not Modified', 400 => 'Bad Request', 401 => 'Unauthorized', 404 => 'Not Found',
              413 => 'Payload Too Large', 418 => "I'm a teapot", 500 => 'Internal Server Error',
              503 => 'Service Unavailable' }.freeze

  def self.plain(status, text)
    [status, { 'content-type' => 'text/plain; charset=utf-8' }, text]
  end

  def self.handle_v5(request)
    headers = request[:headers]
    if request[:method] == 'GET' && request[:target].split('?', 2)[0] == '/__opr/health'
      return plain(200, 'OK')
    end

    timeout = 0
    unless (headers['x-open-runtimes-timeout'] || '').empty?
      timeout = headers['x-open-runtimes-timeout'].match?(/\A\d+\z/) ? headers['x-open-runtimes-timeout'].to_i : 0
      return plain(500, 'Header "x-open-runtimes-timeout" must be an integer greater than 0.') unless timeout.positive?
    end
    if !CONFIG[:secret].empty? && headers['x-open-runtimes-secret'] != CONFIG[:secret]
      return plain(500, 'Unauthorized. Provide correct "x-open-runtimes-secret" header.')
    end
    return plain(413, '') if request[:too_large]

    log_id = ''
    if (headers['x-open-runtimes-logging'] || '').downcase != 'disabled'
      log_id = headers['x-open-runtimes-log-id'].to_s
      log_id = CONFIG[:development] ? 'dev' : uniqid if log_id.empty?
    end
    logger = Logger.new(log_id)
    status, out_headers, body = call_v5(request, logger, timeout)
    logger.close
    status = 500 unless status.is_a?(Integer) && status.between?(100, 999)
    [status, output_headers(out_headers, log_id), body]
  end

  def self.call_v5(request, logger, timeout)
    fail_with = lambda do |status, message|
      logger.message(:error, [message])
      [status, {}, '']
    end
    begin
      handler, legacy = load_handler
    rescue EntrypointError => e
      return fail_with.call(503, e.message)
    end

    fields = request_fields(request)
    begin
      if legacy
        res = LegacyResponse.new
        payload = OpenRuntimes.utf8(fields[:body_binary])
        req = LegacyRequest.new(payload, OpenRuntimes.legacy_variables(payload, fields[:headers]), fields[:headers])
        invoke(logger, timeout) { handler.call(req, res) }
        out = res.is_json ? RuntimeResponse.new.json(res.body, res.status) : RuntimeResponse.new.text(res.body, res.status)
      else
        out = invoke(logger, timeout) { handler.call(RuntimeContext.new(RuntimeRequest.new(fields), logger)) }
        unless out.is_a?(Hash)
          return fail_with.call(500, 'Return statement missing. return context.res.empty() if no response is expected.')
        end
      end
    rescue TimedOut
      return fail_with.call(500, 'Execution timed out.')
    rescue Exception => e # rubocop:disable Lint/RescueException -- any failure of the function is a 500
      return fail_with.call(500, e.full_message(highlight: false))
    ensure
      logger.end_native_line
    end
    body = out['body'] || out[:body] || ''
    body = body.pack('C*') if body.is_a?(Array)
    [(out['statusCode'] || out[:statusCode] || 200).to_i, out['headers'] || out[:headers] || {}, body.to_s]
  end

  def self.handle_v2(request)
    json = { 'content-type' => 'application/json' }
    reply = ->(status, fields) { [status, json, JSON.generate(fields)] }
    return reply.call(500, { stderr: 'Unauthorized' }) if request[:headers]['x-internal-challenge'] != CONFIG[:v2_key]

    data = begin
      JSON.parse(request[:body])
    rescue JSON::ParserError
      {}
    end
    data = {} unless data.is_a?(Hash)
    payload = data['payload'].nil? ? '' : data['payload']
    payload = payload.to_json unless payload.is_a?(String)
    variables = data['variables'].is_a?(Hash) ? data['variables'] : {}
    headers = data['headers'].is_a?(Hash) ? data['headers'] : {}
    # Appwrite 1.0–1.3 put the function timeout in the body.
    timeout = data['timeout'].is_a?(Integer) && data['timeout'].positive? ? data['timeout'] : 0

    logger = Logger.new('', in_memory: true)
    output = lambda do |status, fields|
      reply.call(status, { stdout: OpenRuntimes.utf8(logger.memory[:log]),
                           stderr: OpenRuntimes.utf8(logger.memory[:error]) }.merge(fields))
    end
    begin
      handler, legacy = load_handler
    rescue EntrypointError => e
      logger.message(:error, [e.message])
      return output.call(500, {})
    end
    begin
      if legacy
        res = LegacyResponse.new
        invoke(logger, timeout) { handler.call(LegacyRequest.new(payload, variables, headers), res) }
        output.call(res.status.to_i, { response: res.body })
      else
        fields = { method: 'POST', headers: headers, body_binary: payload.b }
        out = invoke(logger, timeout) { handler.call(RuntimeContext.new(RuntimeRequest.new(fields), logger)) }
        return output.call(500, {}) unless out.is_a?(Hash)

        output.call((out['statusCode'] || 200).to_i, { response: OpenRuntimes.utf8(out['body'].to_s) })
      end
    rescue TimedOut
      logger.message(:error, ['Execution timed out.'])
      output.call(500, {})
    rescue Exception => e # rubocop:disable Lint/RescueException
      logger.message(:error, [e.full_message(highlight: false)])
      output.call(500, {})
    end
  end

  # HTTP/1.1 on one connection. Returns a request hash, or nil when the peer closed or sent garbage.
  # Oversized bodies are read and dropped so the client gets its 413.
  def self.read_request(sock)
    line = sock.gets("\r\n", 65_536)
    line = sock.gets("\r\n", 65_536) while line == "\r\n"
    return nil if line.nil?

    method, target, version = OpenRuntimes.utf8(line.chomp).split(' ', 3)
    return nil if version.nil?

    headers = {}
    while (raw = sock.gets("\r\n", 65_536))
      raw = raw.chomp
      break if raw.empty?

      key, value = raw.split(':', 2)
      next if value.nil?

      key = key.strip.downcase
      value = value.strip.force_encoding(Encoding::UTF_8) # a new string: no copy needed
      value = value.scrub unless value.valid_encoding?
      headers[key] = headers.key?(key) ? "#{headers[key]}#{key == 'cookie' ? '; ' : ', '}#{value}" : value
    end
    return nil if raw.nil?

    connection = (headers['connection'] || '').downcase
    keep_alive = version.strip == 'HTTP/1.1' ? !connection.include?('close') : connection.include?('keep-alive')
    sock.write("HTTP/1.1 100 Continue\r\n\r\n") if (headers['expect'] || '').casecmp?('100-continue')
    body, too_large = read_body(sock, headers)
    return nil if body.nil?

    { method: method.upcase, target: target, headers: headers, body: body, too_large: too_large,
      keep_alive: keep_alive && !(too_large && headers['transfer-encoding']) }
  end

  def self.read_body(sock, headers)
    limit = CONFIG[:max_body_bytes]
    body = String.new(encoding: Encoding::BINARY)
    too_large = false
    if (headers['transfer-encoding'] || '').downcase.include?('chunked')
      loop do
        size_line = sock.gets("\r\n", 4096) or return nil
        size = size_line.split(';', 2)[0].strip.to_i(16)
        if size.zero?
          while (trailer = sock.gets("\r\n", 65_536))
            break if trailer == "\r\n"
          end
          break
        end
        chunk = sock.read(size) or return nil
        sock.read(2)
        too_large ||= body.bytesize + chunk.bytesize > limit
        body << chunk unless too_large
      end
    else
      length = headers['content-length'].to_i
      if length > limit
        too_large = true
        while length.positive?
          chunk = sock.read([length, 1 << 20].min) or return nil
          length -= chunk.bytesize
        end
      elsif length.positive?
        body = sock.read(length)
        return nil if body.nil? || body.bytesize < length
      end
    end
    [too_large ? String.new(encoding: Encoding::BINARY) : body, too_large]
  end

  def self.send_response(sock, request, status, headers, body)
    body = body.to_s.b
    head = +"HTTP/1.1 #{status} #{REASONS[status] || 'Status'}\r\n"
    headers.each do |key, values|
      Array(values).each { |value| head << "#{key}: #{value.to_s.delete("\r\n")}\r\n" }
    end
    head << "content-length: #{body.bytesize}\r\nconnection: #{request[:keep_alive] ? 'keep-alive' : 'close'}\r\n\r\n"
    sock.write(head.b, request[:method] == 'HEAD' ? '' : body)
  end

  def self.handle_connection(sock)
    sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    sock.binmode
    handle = CONFIG[:v2_key].empty? ? method(:handle_v5) : method(:handle_v2)
    while (request = read_request(sock))
      status, headers, body = begin
        handle.call(request)
      rescue StandardError => e
        STDERR.puts e.full_message(highlight: false)
        plain(500, '')
      end
      send_response(sock, request, status, headers, body)
      break unless request[:keep_alive]
    end
  rescue IOError, SystemCallError
    # the client went away
  ensure
    sock.close unless sock.closed?
  end

  def self.serve
    STDOUT.sync = true
    $stdout = NativeOutput.new(STDOUT, :log)
    $stderr = NativeOutput.new(STDERR, :error)
    Thread.report_on_exception = false
    server = TCPServer.new(CONFIG[:host], CONFIG[:port])
    %w[TERM INT].each { |signal| trap(signal) { exit!(0) } }
    STDOUT.puts 'HTTP server successfully started!'
    loop do
      client = server.accept
      Thread.new(client) { |sock| handle_connection(sock) }
    end
  end
end

OpenRuntimes.serve
