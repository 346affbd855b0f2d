using System.Diagnostics;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

// The dispatch baseline: a plain MailKit loop sending N confirmation-sized mails over one
// connection, as fast as the SMTP server takes them. Prints messages per second.
//   dotnet Subscriptions.Benchmarks.dll <smtp host> <smtp port> <count>
var host = args.ElementAtOrDefault(0) ?? "127.0.0.1";
var port = int.Parse(args.ElementAtOrDefault(1) ?? "1025", System.Globalization.CultureInfo.InvariantCulture);
var count = int.Parse(args.ElementAtOrDefault(2) ?? "10000", System.Globalization.CultureInfo.InvariantCulture);

using var client = new SmtpClient();
await client.ConnectAsync(host, port, SecureSocketOptions.None);
var stopwatch = Stopwatch.StartNew();
for (var i = 0; i < count; i++)
{
    var message = new MimeMessage { Subject = "Confirm your subscription to News" };
    message.From.Add(new MailboxAddress("Newsletter", "newsletter@localhost"));
    message.To.Add(new MailboxAddress(null, $"baseline{i}@example.org"));
    message.Body = new BodyBuilder
    {
        TextBody = $"Please confirm that you want to receive News.\n\nhttp://127.0.0.1:5091/confirm/{Guid.NewGuid():N}{Guid.NewGuid():N}\n",
        HtmlBody = $"<p>Please confirm that you want to receive News.</p><p><a href=\"http://127.0.0.1:5091/confirm/{Guid.NewGuid():N}\">Confirm subscription</a></p>",
    }.ToMessageBody();
    await client.SendAsync(message);
}

stopwatch.Stop();
await client.DisconnectAsync(true);
Console.WriteLine($"{count / stopwatch.Elapsed.TotalSeconds:F0}");
