// Canonical test function (current API): the actions of runtimes/README.md, chosen by x-action.
import 'dart:async';
import 'dart:io' show Platform, exit, stdout;
import 'dart:typed_data';

Future<dynamic> main(final context) async {
  final String action = context.req.headers['x-action'] ?? '';
  switch (action) {
    case 'plaintextResponse':
      return context.res.text('Hello World 👋');
    case 'jsonResponse':
      return context.res.json({'json': true, 'message': 'Developers are awesome.'});
    case 'customCharsetResponse':
      return context.res.text('ÅÆ', 200, {'content-type': 'text/plain; charset=iso-8859-1'});
    case 'uppercaseCharsetResponse':
      return context.res.text('ÅÆ', 200, {'content-type': 'TEXT/PLAIN'});
    case 'multipartResponse':
      return context.res.text(
          '--12345\nContent-Disposition: form-data; name="partOne"\n\nWhy just have one part?\n'
          '--12345\nContent-Disposition: form-data; name="partTwo"\n\nWhen you can have two!\n--12345--',
          200,
          {'content-type': 'multipart/form-data; boundary=12345'});
    case 'redirectResponse':
      return context.res.redirect('https://github.com/');
    case 'emptyResponse':
      return context.res.empty();
    case 'noResponse':
      context.res.text('This should be ignored, as it is not returned.');
      return null;
    case 'doubleResponse':
      context.res.text('This should be ignored.');
      return context.res.text('This should be returned.');
    case 'enforcedHeaders':
      return context.res.json({
        'x-custom': context.req.headers['x-custom'],
        'x-custom-uppercase': context.req.headers['x-custom-uppercase'],
        'x-open-runtimes-custom': context.req.headers['x-open-runtimes-custom'],
      });
    case 'headersResponse':
      return context.res.text('OK', 200, {
        'first-header': 'first-value',
        'second-header': context.req.headers['x-open-runtimes-custom-in-header'] ?? 'missing',
        'cookie': context.req.headers['cookie'] ?? 'missing',
        'x-open-runtimes-custom-out-header': 'third-value',
      });
    case 'statusResponse':
      return context.res.text('FAIL', 404);
    case 'requestMethod':
      return context.res.text(context.req.method);
    case 'requestUrl':
      return context.res.json({
        'url': context.req.url,
        'port': context.req.port,
        'path': context.req.path,
        'query': context.req.query,
        'queryString': context.req.queryString,
        'scheme': context.req.scheme,
        'host': context.req.host,
      });
    case 'requestHeaders':
      return context.res.json(context.req.headers);
    case 'requestBodyText':
      return context.res.text(context.req.bodyText);
    case 'requestBodyJson':
      return context.res.json(context.req.bodyJson);
    case 'requestBodyBinary':
      return context.res.binary(context.req.bodyBinary);
    case 'requestBodyTextAuto':
      return context.res.text(context.req.body);
    case 'requestBodyJsonAuto':
      return context.res.json(context.req.body);
    case 'binaryResponse1':
    case 'binaryResponse2':
    case 'binaryResponse3':
    case 'binaryResponse4':
    case 'binaryResponse5':
      final n = int.parse(action.substring(action.length - 1)) * 10;
      return context.res.binary(Uint8List.fromList([0, n, 255]));
    case 'binaryResponseLarge':
      return context.res.send(md5Hex(context.req.bodyBinary), 200, {'x-method': context.req.method});
    case 'envVars':
      return context.res.json({
        'var': Platform.environment['CUSTOM_ENV_VAR'],
        'emptyVar': Platform.environment['NOT_DEFINED_VAR'],
      });
    case 'logs':
      print('Native log');
      context.log('Debug log');
      context.error('Error log');
      context.log('Log+With+Plus+Symbol');
      context.log(42);
      context.log(4.2);
      context.log(true);
      context.log({'objectKey': 'objectValue'});
      context.log(['arrayValue']);
      context.log('A' * 9000);
      context.error('B' * 9000);
      return context.res.text('');
    case 'timeout':
      context.log('Timeout start.');
      await Future.delayed(Duration(seconds: 3));
      context.log('Timeout end.');
      return context.res.text('Successful response.');
    case 'deprecatedMethods':
      return context.res.send(context.req.bodyRaw);
    case 'deprecatedMethodsUntypedBody':
      return context.res.send('50');
    case 'spreadOperatorLogs':
      context.log('engine:', 'open-runtimes');
      context.error('engine:', 'open-runtimes');
      return context.res.text('OK');
    case 'errorTest':
      context.log('Before error...');
      throw Exception('Error!');
    case 'largeResponse':
      final size = int.parse(context.req.headers['x-size'] ?? '2000000');
      return context.res.text('A' * size);
    case 'floodLogs':
      final line = 'x' * 1023;
      for (var i = 0; i < 5 * 1024; i++) {
        print(line);
      }
      return context.res.text('OK');
    case 'exit':
      await stdout.flush();
      exit(1);
      return null;  // not reached; older Dart wants every case to end in return/throw
    case 'hang':
      await Completer<void>().future;
      return null;
  }
  throw Exception('Unknown action');
}

// RFC 1321, so the test function needs no package beyond the SDK.
String md5Hex(List<int> input) {
  const k = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
  ];
  const r = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
  ];
  const mask = 0xffffffff;
  final bits = input.length * 8;
  final message = BytesBuilder(copy: false)..add(input)..addByte(0x80);
  while (message.length % 64 != 56) {
    message.addByte(0);
  }
  for (var i = 0; i < 8; i++) {
    message.addByte((bits >> (8 * i)) & 0xff);
  }
  final msg = message.takeBytes();
  var h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  final w = List<int>.filled(16, 0);
  for (var chunk = 0; chunk < msg.length; chunk += 64) {
    for (var i = 0; i < 16; i++) {
      final p = chunk + i * 4;
      w[i] = msg[p] | (msg[p + 1] << 8) | (msg[p + 2] << 16) | (msg[p + 3] << 24);
    }
    var a = h[0], b = h[1], c = h[2], d = h[3];
    for (var i = 0; i < 64; i++) {
      int f, g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | (~d & mask));
        g = (7 * i) % 16;
      }
      final rotated = (a + (f & mask) + k[i] + w[g]) & mask;
      a = d;
      d = c;
      c = b;
      b = (b + (((rotated << r[i]) | (rotated >> (32 - r[i]))) & mask)) & mask;
    }
    h = [(h[0] + a) & mask, (h[1] + b) & mask, (h[2] + c) & mask, (h[3] + d) & mask];
  }
  final out = StringBuffer();
  for (final word in h) {
    for (var i = 0; i < 4; i++) {
      out.write(((word >> (8 * i)) & 0xff).toRadixString(16).padLeft(2, '0'));
    }
  }
  return out.toString();
}
