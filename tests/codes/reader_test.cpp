// CodeReader on rendered symbols: every format reads back its payload (plain
// and GS1), the format list parses, nothing is read where there is no code,
// and frames crowded with large 1-D codes cannot bring the process down
// (Debian's zxing-cpp 1.4 asserts on some of them; it must never see them).
#include "vigil/codes/code_reader.hpp"
#include "vigil/codes/format.hpp"
#include "vigil/groundtruth/codes.hpp"

#include <opencv2/imgproc.hpp>
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>

namespace {

namespace codes = vigil::codes;
namespace gt = vigil::groundtruth;

const cv::Size kFrame(1280, 720);
constexpr int kModulePx = 3;

cv::Mat greyBackground(std::uint32_t seed) {
  cv::Mat grey;
  cv::cvtColor(gt::makeBackground(kFrame, seed), grey, cv::COLOR_BGR2GRAY);
  return grey;
}

TEST(Formats, ParsesListsAndRejectsUnknownNames) {
  EXPECT_EQ(codes::parseFormatList("all"), codes::FormatSet::all());
  const auto set = codes::parseFormatList(" QR, datamatrix,ean13 ,code128");
  EXPECT_TRUE(set.contains(codes::Format::QRCode));
  EXPECT_TRUE(set.contains(codes::Format::Code128));
  EXPECT_FALSE(set.contains(codes::Format::EAN8));
  EXPECT_EQ(codes::formatListString(set), "qr,datamatrix,ean13,code128");
  EXPECT_THROW(codes::parseFormatList("qr,barcode"), std::invalid_argument);
  EXPECT_THROW(codes::parseFormatList(" , "), std::invalid_argument);
  for (codes::Format format : codes::allFormats()) {
    EXPECT_EQ(codes::formatFromName(codes::formatName(format)), format);
  }
}

struct Sample {
  codes::Format format;
  std::string payload;
  bool gs1;
};

class ReadsEveryFormat : public ::testing::TestWithParam<Sample> {};

TEST_P(ReadsEveryFormat, PayloadComesBackWithItsFormatAndBox) {
  const Sample& sample = GetParam();
  gt::CodeSymbol symbol{sample.format, sample.payload, sample.gs1};
  const cv::Mat image = gt::renderSymbol(symbol, kModulePx);
  cv::Mat frame = greyBackground(3);
  const cv::Rect where(cv::Point(200, 150), image.size());
  ASSERT_TRUE((where & cv::Rect(cv::Point(), kFrame)) == where) << "symbol fits the frame";
  image.copyTo(frame(where));

  codes::CodeReader reader;
  const auto found = reader.read(frame);
  ASSERT_EQ(found.size(), 1u) << codes::formatName(sample.format) << " " << sample.payload;
  EXPECT_EQ(found[0].format, sample.format);
  EXPECT_EQ(found[0].canonicalText(), sample.payload);
  EXPECT_EQ(found[0].gs1, sample.gs1);
  EXPECT_EQ(found[0].text.substr(0, 1), "]") << "text starts with the symbology identifier";
  EXPECT_GT((found[0].box & where).area(), 0) << "box lies on the symbol";
  if (sample.gs1) {
    const auto gs1 = found[0].gs1Data();
    ASSERT_TRUE(gs1.has_value());
    EXPECT_TRUE(gs1->valid());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Codes, ReadsEveryFormat,
    ::testing::Values(Sample{codes::Format::QRCode, "https://vigil.example/q", false},
                      Sample{codes::Format::QRCode, "(253)3610321456881ABC(17)010120(3902)001000", true},
                      Sample{codes::Format::DataMatrix, "LOT-4711", false},
                      Sample{codes::Format::DataMatrix, "(01)09501101530003(17)201231(10)AB12", true},
                      Sample{codes::Format::Aztec, "TICKET 42", false},
                      Sample{codes::Format::PDF417, "DOC 12345", false},
                      Sample{codes::Format::EAN13, "5901234123457", false},
                      Sample{codes::Format::EAN8, "96385074", false},
                      Sample{codes::Format::UPCA, "036000291452", false},
                      Sample{codes::Format::UPCE, "01234565", false},
                      Sample{codes::Format::Code128, "PKG-0042", false},
                      Sample{codes::Format::Code128, "(00)106141411234567897(3103)001234", true},
                      Sample{codes::Format::Code39, "C39-ABC", false},
                      Sample{codes::Format::ITF, "15400141288763", false}));

// Symbols turned by up to 33 degrees: no row or column scan line crosses all
// the bars of a long 1-D code, and zxing 1.4 reads PDF417 and Aztec only
// upright, so the reader must turn the crop.
struct Turned {
  codes::Format format;
  std::string payload;
  bool gs1;
  double degrees;
};

class ReadsTurnedSymbols : public ::testing::TestWithParam<Turned> {};

TEST_P(ReadsTurnedSymbols, PayloadComesBackWithABoxOnTheSymbol) {
  const Turned& sample = GetParam();
  const cv::Mat image = gt::renderSymbol({sample.format, sample.payload, sample.gs1}, kModulePx);
  cv::Mat frame = greyBackground(5);
  const cv::Point2f centre(640.f, 360.f);
  cv::Mat turn = cv::getRotationMatrix2D(cv::Point2f(image.cols / 2.f, image.rows / 2.f), sample.degrees, 1.0);
  turn.at<double>(0, 2) += centre.x - image.cols / 2.0;
  turn.at<double>(1, 2) += centre.y - image.rows / 2.0;
  cv::Mat coverage;
  cv::warpAffine(cv::Mat(image.size(), CV_8UC1, cv::Scalar(255)), coverage, turn, kFrame);
  cv::Mat turned;
  cv::warpAffine(image, turned, turn, kFrame);
  turned.copyTo(frame, coverage > 128);
  const cv::Rect where = cv::RotatedRect(centre, cv::Size2f(image.size()), static_cast<float>(-sample.degrees))
                             .boundingRect();

  codes::CodeReader reader;
  const auto found = reader.read(frame);
  ASSERT_EQ(found.size(), 1u) << codes::formatName(sample.format) << " at " << sample.degrees << " degrees";
  EXPECT_EQ(found[0].format, sample.format);
  EXPECT_EQ(found[0].canonicalText(), sample.payload);
  const cv::Rect overlap = found[0].box & where;
  EXPECT_GT(overlap.area(), 0) << "box lies on the symbol";
  EXPECT_EQ(found[0].box & cv::Rect(cv::Point(), kFrame), found[0].box) << "box inside the frame";
}

INSTANTIATE_TEST_SUITE_P(
    Codes, ReadsTurnedSymbols,
    ::testing::Values(Turned{codes::Format::Code128, "(00)106141411234567897(3103)001234", true, 25.0},
                      Turned{codes::Format::Code128, "(00)106141411234567897(3103)001234", true, -30.0},
                      Turned{codes::Format::EAN13, "5901234123457", false, 20.0},
                      Turned{codes::Format::ITF, "15400141288763", false, -22.0},
                      Turned{codes::Format::PDF417, "DOC 12345 TURNED", false, 18.0},
                      Turned{codes::Format::Aztec, "TICKET 42", false, 33.0}));

TEST(CodeReader, ReadsNothingWhereThereIsNoCode) {
  codes::CodeReader reader;
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    EXPECT_TRUE(reader.read(greyBackground(seed)).empty()) << "background seed " << seed;
  }
  EXPECT_TRUE(reader.read(cv::Mat(kFrame, CV_8UC1, cv::Scalar(255))).empty());
  EXPECT_TRUE(reader.read(cv::Mat()).empty());
  EXPECT_THROW(reader.read(cv::Mat(kFrame, CV_8UC3)), std::invalid_argument);
}

TEST(CodeReader, SelectedFormatsOnly) {
  gt::CodeSymbol qr{codes::Format::QRCode, "only-qr", false};
  gt::CodeSymbol ean{codes::Format::EAN13, "5901234123457", false};
  cv::Mat frame = greyBackground(4);
  const cv::Mat qr_image = gt::renderSymbol(qr, kModulePx);
  const cv::Mat ean_image = gt::renderSymbol(ean, kModulePx);
  qr_image.copyTo(frame(cv::Rect(cv::Point(100, 100), qr_image.size())));
  ean_image.copyTo(frame(cv::Rect(cv::Point(600, 300), ean_image.size())));
  codes::ReaderOptions options;
  options.formats = codes::parseFormatList("ean13");
  codes::CodeReader reader(options);
  const auto found = reader.read(frame);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].format, codes::Format::EAN13);
}

// Frames packed with large EAN-13 and Code 128 symbols, every mode, every
// format enabled: the process must survive (zxing never sees a 1-D format).
TEST(CodeReader, FramesFullOfLinearCodesCannotCrash) {
  std::mt19937 random(11);
  std::uniform_int_distribution<int> digit(0, 9);
  const std::vector<codes::SearchMode> modes = {codes::SearchMode::Candidates, codes::SearchMode::WholeFrame};
  constexpr int kFrames = 12;
  int read = 0;
  for (codes::SearchMode mode : modes) {
    codes::ReaderOptions options;
    options.search = mode;
    codes::CodeReader reader(options);
    for (int f = 0; f < kFrames; ++f) {
      cv::Mat frame(kFrame, CV_8UC1, cv::Scalar(200));
      for (int y = 0; y + 120 < kFrame.height; y += 140) {
        for (int x = 0; x + 200 < kFrame.width;) {
          std::string body;
          for (int i = 0; i < 12; ++i) body += static_cast<char>('0' + digit(random));
          gt::CodeSymbol symbol;
          if ((x / 100 + y / 140 + f) % 2 == 0) {
            // Finish the EAN-13 with its check digit.
            for (char check = '0'; check <= '9'; ++check) {
              if (codes::gs1CheckDigitValid(body + check)) {
                symbol = {codes::Format::EAN13, body + check, false};
                break;
              }
            }
          } else {
            symbol = {codes::Format::Code128, "X" + body, false};
          }
          const int module = 2 + (f % 3);
          const cv::Mat image = gt::renderSymbol(symbol, module);
          const cv::Rect where = cv::Rect(cv::Point(x, y), image.size()) & cv::Rect(cv::Point(), kFrame);
          image(cv::Rect(cv::Point(), where.size())).copyTo(frame(where));
          x += image.cols;
        }
      }
      read += static_cast<int>(reader.read(frame).size());
    }
  }
  EXPECT_GT(read, 0) << "the crowded frames do contain readable codes";
}

}  // namespace
