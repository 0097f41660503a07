const http = require('node:http');
const { greet } = require('tiny-greeting');

http.createServer((req, res) => res.end(`${greet('container')}\n`)).listen(process.env.PORT ?? 8080);
