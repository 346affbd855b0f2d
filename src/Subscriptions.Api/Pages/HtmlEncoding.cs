using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace Subscriptions.Api.Pages;

/// <summary>
/// How every template of ours encodes what it is given: the characters that mean something in
/// HTML always, letters of any script never (a German or Polish page stays readable in its source,
/// and a mail stays small).
/// </summary>
public static class HtmlEncoding
{
    public static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);
}
